import Protocol
import Testing

/// `help` in the REPL, from the command and parameter tables.
@Suite struct HelpTests {
    @Test func everyCommandHasHelp() throws {
        let overview = ControlCommand.helpOverview
        for row in ControlCommand.syntax {
            let help = try #require(ControlCommand.help([row.name]), "\(row.name)")
            #expect(help.hasPrefix(row.name), "\(help)")
            #expect(row.usage.isEmpty || help.contains(row.usage))
            #expect(overview.contains(row.name))
            #expect(ControlCommand.help(["/timbre/" + row.name]) == help, "the address means the command")
        }
        #expect(ControlCommand.help(["toggle"])?.contains("LABEL alone switches a node off") == true)
        #expect(ControlCommand.help(["dance"]) == nil)
    }

    @Test func setListsEveryParameter() throws {
        let help = try #require(ControlCommand.help(["set"]))
        for parameter in NodeParameter.syntax { #expect(help.contains("\n  \(parameter.name) "), "\(parameter.name)") }
        #expect(ControlCommand.help(["set", "eq"])?.hasPrefix("set LABEL eq I KIND FREQ") == true)
        #expect(ControlCommand.help(["set", "volume"]) == nil)
        // Every parameter and every command of this branch is described.
        #expect(Set(NodeParameter.names).isSubset(of: Set(NodeParameter.summaries.keys)))
        #expect(Set(ControlCommand.syntax.map(\.name)).isSubset(of: Set(ControlCommand.summaries.keys)))
    }
}
