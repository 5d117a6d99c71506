import ModelHost

extension NodeMethod {
    /// The plan kind a node of this method runs (`CallPlan.Kind(nodeMethod:)` knows every
    /// method a node can name; everything after executes the plan).
    var planKind: CallPlan.Kind {
        guard let kind = CallPlan.Kind(nodeMethod: rawValue) else { preconditionFailure("no plan for method '\(rawValue)'") }
        return kind
    }
}
