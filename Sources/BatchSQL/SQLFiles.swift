/// The project's `sql/` folder as compiled into the binary by the EmbedSQL
/// build plugin. The `.sql` files are the single source; this module only
/// looks them up, so an operator installs one executable.
public enum SQLFiles {
    /// Every file, keyed by its path under `sql/` (e.g. `jobs/mastery-update.sql`).
    public static var all: [String: String] { EmbeddedSQL.files }

    /// The text of `sql/<path>`; a missing file is a build defect.
    public static func text(_ path: String) -> String {
        guard let text = EmbeddedSQL.files[path] else {
            preconditionFailure("sql/\(path) is not embedded; is the file in the package's sql/ folder?")
        }
        return text
    }

    /// Paths under `folder/`, sorted.
    public static func paths(in folder: String) -> [String] {
        EmbeddedSQL.files.keys.filter { $0.hasPrefix(folder + "/") }.sorted()
    }
}
