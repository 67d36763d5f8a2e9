import Foundation
import PackagePlugin

/// Embeds every `.sql` file under the package's `sql/` folder into the
/// `BatchSQL` module, so the installed binary carries its migrations and job
/// statements while the `.sql` files remain the single source a DBA reads.
@main
struct EmbedSQL: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let sqlRoot = context.package.directoryURL.appending(path: "sql")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: sqlRoot, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "sql" {
                inputs.append(url)
            }
        }
        inputs.sort { $0.path < $1.path }
        func folders(under root: URL) -> [URL] {
            var result = [root]
            if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isDirectoryKey]) {
                for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
                    result.append(url)
                }
            }
            return result
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) SQL files",
                executable: try context.tool(named: "SQLEmbedder").url,
                arguments: [sqlRoot.path, output.path],
                // The folders too: a new file changes its folder, so the
                // command reruns (the embedder lists the folders itself).
                inputFiles: inputs + folders(under: sqlRoot),
                outputFiles: [output]
            )
        ]
    }
}
