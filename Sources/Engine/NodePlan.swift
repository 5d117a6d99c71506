import ModelHost

extension NodeMethod {
    /// The plan kind a node of this method runs: the one place the engine maps its methods to
    /// plans (everything after executes the plan; see `CallPlan`).
    var planKind: CallPlan.Kind {
        switch self {
        case .forward: .forward
        case .encode: .encode
        case .decode: .decode
        case .prior: .prior
        }
    }
}
