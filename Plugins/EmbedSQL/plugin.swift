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
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) SQL files",
                executable: try context.tool(named: "SQLEmbedder").url,
                arguments: [sqlRoot.path, output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
