/// Lexical helpers over SQL text that respect quotes, comments and
/// dollar-quoted bodies: named parameters (`:name`) and statement splitting.
public enum SQLText {
    /// Rewrites `:name` placeholders to `$1, $2, ...` and returns the names
    /// in parameter order. `::type` casts, string literals, quoted
    /// identifiers, comments and dollar-quoted bodies are left alone.
    public static func positional(_ sql: String) -> (text: String, names: [String]) {
        var names: [String] = []
        var out = ""
        scan(sql) { segment, isCode in
            guard isCode else { out += segment; return }
            let chars = Array(segment)
            var i = 0
            while i < chars.count {
                let c = chars[i]
                if c == ":" {
                    if i + 1 < chars.count, chars[i + 1] == ":" {
                        out += "::"
                        i += 2
                        continue
                    }
                    var j = i + 1
                    var name = ""
                    while j < chars.count, chars[j] == "_" || chars[j].isLetter || (chars[j].isNumber && !name.isEmpty) {
                        name.append(chars[j])
                        j += 1
                    }
                    if !name.isEmpty, !(i > 0 && (chars[i - 1].isLetter || chars[i - 1].isNumber)) {
                        if let existing = names.firstIndex(of: name) {
                            out += "$\(existing + 1)"
                        } else {
                            names.append(name)
                            out += "$\(names.count)"
                        }
                        i = j
                        continue
                    }
                }
                out.append(c)
                i += 1
            }
        }
        return (out, names)
    }

    /// Splits a script into statements at top-level semicolons; statements
    /// that hold only comments or white space are dropped.
    public static func statements(_ sql: String) -> [String] {
        var result: [String] = []
        var current = ""
        var hasCode = false
        scan(sql) { segment, isCode in
            guard isCode else {
                current += segment
                if !segment.hasPrefix("--") && !segment.hasPrefix("/*") { hasCode = true }
                return
            }
            for c in segment {
                if c == ";" {
                    if hasCode { result.append(current.trimmingWhitespace()) }
                    current = ""
                    hasCode = false
                } else {
                    current.append(c)
                    if !c.isWhitespace { hasCode = true }
                }
            }
        }
        if hasCode { result.append(current.trimmingWhitespace()) }
        return result
    }

    /// Calls `body` with consecutive segments of `sql`: code (`true`) or a
    /// literal/comment/quoted part (`false`) to pass through untouched.
    static func scan(_ sql: String, _ body: (String, Bool) -> Void) {
        let chars = Array(sql)
        var i = 0
        var code = ""
        func flush() { if !code.isEmpty { body(code, true); code = "" } }
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-", next == "-" {
                flush()
                var j = i
                while j < chars.count, chars[j] != "\n" { j += 1 }
                body(String(chars[i..<j]), false)
                i = j
            } else if c == "/", next == "*" {
                flush()
                var depth = 0
                var j = i
                repeat {
                    if j + 1 < chars.count, chars[j] == "/", chars[j + 1] == "*" { depth += 1; j += 2 }
                    else if j + 1 < chars.count, chars[j] == "*", chars[j + 1] == "/" { depth -= 1; j += 2 }
                    else { j += 1 }
                } while depth > 0 && j < chars.count
                body(String(chars[i..<j]), false)
                i = j
            } else if c == "'" || c == "\"" {
                flush()
                var j = i + 1
                while j < chars.count {
                    if chars[j] == c {
                        if j + 1 < chars.count, chars[j + 1] == c { j += 2; continue }
                        break
                    }
                    j += 1
                }
                j = min(j + 1, chars.count)
                body(String(chars[i..<j]), false)
                i = j
            } else if c == "$", let tagEnd = dollarTagEnd(chars, from: i) {
                flush()
                let tag = String(chars[i...tagEnd])
                var j = tagEnd + 1
                var closed = false
                while j < chars.count {
                    if chars[j] == "$", String(chars[j..<min(j + tag.count, chars.count)]) == tag {
                        j += tag.count
                        closed = true
                        break
                    }
                    j += 1
                }
                if !closed { j = chars.count }
                body(String(chars[i..<j]), false)
                i = j
            } else {
                code.append(c)
                i += 1
            }
        }
        flush()
    }

    /// `$tag$` or `$$` starting at `start`; nil for a positional `$1`.
    private static func dollarTagEnd(_ chars: [Character], from start: Int) -> Int? {
        if start > 0, chars[start - 1].isLetter || chars[start - 1].isNumber || chars[start - 1] == "_" { return nil }
        var j = start + 1
        while j < chars.count {
            let c = chars[j]
            if c == "$" { return j }
            if !(c.isLetter || c == "_" || (c.isNumber && j > start + 1)) { return nil }
            j += 1
        }
        return nil
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
