import Foundation

/// One method of an nn~ model, as its `<name>_params` buffer describes it:
/// `in_channels` at one frame per `in_ratio` samples in, `out_channels` at one
/// frame per `out_ratio` samples out.
public struct NNMethod: Sendable, Codable, Equatable {
    public var name: String
    public var inChannels: Int
    public var inRatio: Int
    public var outChannels: Int
    public var outRatio: Int
    /// Labels nn~ shows on inlets and outlets (`<name>_input_labels`), when present.
    public var inputLabels: [String]?
    public var outputLabels: [String]?

    public init(name: String, inChannels: Int, inRatio: Int, outChannels: Int, outRatio: Int,
                inputLabels: [String]? = nil, outputLabels: [String]? = nil) {
        self.name = name
        self.inChannels = inChannels
        self.inRatio = inRatio
        self.outChannels = outChannels
        self.outRatio = outRatio
        self.inputLabels = inputLabels
        self.outputLabels = outputLabels
    }

    /// True when the input is audio (one frame per sample).
    public var takesAudio: Bool { inRatio == 1 }
    /// True when the output is audio.
    public var givesAudio: Bool { outRatio == 1 }

    /// The classes of a drum export's velocity channels (trigger contract 2): the names of the
    /// leading inputs labelled `(velocity) NAME: ...`, in channel order; empty for any other
    /// model (contract 1's `(trigger)` channel included).
    public var hitClasses: [String] {
        var names: [String] = []
        for label in inputLabels ?? [] {
            guard label.hasPrefix("(velocity) ") else { break }
            let rest = label.dropFirst("(velocity) ".count)
            names.append(String(rest.prefix { $0 != ":" }))
        }
        return names
    }

    /// Whether the input starts with contract 1's trigger channel (labelled `(trigger)`).
    public var hasTriggerChannel: Bool { inputLabels?.first?.lowercased().hasPrefix("(trigger)") ?? false }
}

/// An attribute nn~ can read and write (`get_attributes()`), with its argument types and current value.
public struct NNAttribute: Sendable, Codable, Equatable {
    public var name: String
    public var types: [ScalarType]
    public var value: JSONValue?
}

/// What `timbre info` prints about a model.
public struct NNModelDescription: Sendable, Codable, Equatable {
    public var file: String
    public var sampleRate: Int?
    public var methods: [NNMethod]
    public var attributes: [NNAttribute]
    public var latentSize: Int?
    public var fullLatentSize: Int?
    public var minimumBlock: Int
    /// A timbre drum export's trigger contract (2: a velocity channel per class; 1: one
    /// trigger channel rising above 0.5); nil for other models.
    public var triggerContract: Int?
    /// Contract 2's classes, one velocity channel each (decode's first inputs).
    public var triggerClasses: [String]?
}

/// A model with the nn~ interface: a RAVE export (v1 or v2), or any
/// `nn_tilde.Module`. Holds one instance of the TorchScript module; make more
/// with `instance()` (streaming models keep state per instance).
public final class NNModel: @unchecked Sendable {
    public let url: URL
    public let module: ScriptModule
    /// The model's sample rate: the `sr` attribute (RAVE v2, nn_tilde) or the
    /// `sampling_rate` buffer (RAVE v1); nil when the model states none.
    public let sampleRate: Int?
    /// Methods a host may call, in the model's order.
    public let methods: [NNMethod]
    /// Names from `get_attributes()`.
    public let attributeNames: [String]

    /// Loads and describes a model; fails with a one-line reason naming the file.
    public convenience init(contentsOf url: URL) throws {
        try self.init(url: url, module: ScriptModule(contentsOf: url))
    }

    private init(url: URL, module: ScriptModule) throws {
        self.url = url
        self.module = module
        sampleRate = Self.readSampleRate(module)
        methods = try Self.readMethods(module, path: url.path)
        attributeNames = module.hasMethod("get_attributes") ? ((try? module.call("get_attributes"))?.stringArray ?? []) : []
    }

    private init(copying other: NNModel) throws {
        url = other.url
        module = try other.module.instanceSharingParameters()
        sampleRate = other.sampleRate
        methods = other.methods
        attributeNames = other.attributeNames
    }

    /// An independent instance of the same model: its own buffers, attributes and
    /// streaming state; the weights (parameters) are shared with this one, read-only.
    public func instance() throws -> NNModel { try NNModel(copying: self) }

    private static func readSampleRate(_ module: ScriptModule) -> Int? {
        for name in ["sr", "sampling_rate"] where module.hasAttribute(name) {
            if let rate = (try? module.attribute(name))?.intValue, rate > 0 { return rate }
        }
        return nil
    }

    /// nn~'s rule: the methods `get_methods()` lists; without it, every method
    /// that has a `<name>_params` buffer.
    private static func readMethods(_ module: ScriptModule, path: String) throws -> [NNMethod] {
        var names: [String]
        if module.hasMethod("get_methods"), let listed = (try? module.call("get_methods"))?.stringArray {
            names = listed
        } else {
            names = module.methodNames.filter { module.hasAttribute("\($0)_params") }
        }
        return try names.map { name in
            guard let params = try module.attribute("\(name)_params").intArray, params.count == 4 else {
                throw TorchError(context: path, message: "'\(name)_params' is not [in_channels, in_ratio, out_channels, out_ratio]")
            }
            guard params.allSatisfy({ $0 > 0 }) else {
                throw TorchError(context: path, message: "'\(name)_params' \(params) has a value below 1")
            }
            let labels = { (suffix: String) -> [String]? in
                module.hasAttribute("\(name)_\(suffix)") ? (try? module.attribute("\(name)_\(suffix)"))?.stringArray : nil
            }
            return NNMethod(name: name, inChannels: params[0], inRatio: params[1], outChannels: params[2],
                            outRatio: params[3], inputLabels: labels("input_labels"), outputLabels: labels("output_labels"))
        }
    }

    /// The method named, or an error listing those the model has.
    public func method(named name: String) throws -> NNMethod {
        if let method = methods.first(where: { $0.name == name }) { return method }
        let have = methods.map(\.name).joined(separator: ", ")
        throw TorchError(context: url.path, message: "the model has no method '\(name)' (it has: \(have.isEmpty ? "none" : have))")
    }

    /// The latent size: channels out of `encode`, or into `decode`.
    public var latentSize: Int? {
        methods.first(where: { $0.name == "encode" })?.outChannels ?? methods.first(where: { $0.name == "decode" })?.inChannels
    }

    /// RAVE's full latent size (before the fidelity cut), when the model records it.
    public var fullLatentSize: Int? {
        module.hasAttribute("full_latent_size") ? (try? module.attribute("full_latent_size"))?.intValue : nil
    }

    /// The smallest block a host can run: the largest ratio among the methods (nn~'s rule).
    public var minimumBlock: Int {
        methods.map { max($0.inRatio, $0.outRatio) }.max() ?? 1
    }

    /// Argument types of an attribute (`<name>_params`).
    public func attributeTypes(_ name: String) throws -> [ScalarType] {
        guard attributeNames.contains(name) else {
            throw TorchError(context: url.path, message: "the model has no attribute '\(name)' (it has: \(attributeNames.isEmpty ? "none" : attributeNames.joined(separator: ", ")))")
        }
        guard module.hasAttribute("\(name)_params"), let codes = try module.attribute("\(name)_params").intArray else {
            return []
        }
        return codes.map { ScalarType(rawValue: $0) ?? .string }
    }

    /// Reads an attribute through `get_<name>()`.
    public func attribute(_ name: String) throws -> JSONValue {
        _ = try attributeTypes(name)
        return try module.call("get_\(name)")
    }

    /// Writes an attribute through `set_<name>(...)`, converting each value per its type.
    public func setAttribute(_ name: String, _ values: [String]) throws {
        let types = try attributeTypes(name)
        guard types.count == values.count else {
            throw TorchError(context: url.path, message: "attribute '\(name)' takes \(types.count) value(s) (\(types.map(\.description).joined(separator: ", "))), got \(values.count)")
        }
        let result = try module.call("set_\(name)", scalars: Array(zip(values, types)))
        if result.intValue == -1 {
            throw TorchError(context: url.path, message: "the model refused \(values.joined(separator: " ")) for attribute '\(name)'")
        }
    }

    /// The full description `timbre info` prints.
    public func describe() -> NNModelDescription {
        let attributes = attributeNames.map { name in
            NNAttribute(name: name, types: (try? attributeTypes(name)) ?? [], value: try? attribute(name))
        }
        let classes = methods.first { $0.name == "decode" }?.hitClasses ?? []
        return NNModelDescription(file: url.path, sampleRate: sampleRate, methods: methods, attributes: attributes,
                                  latentSize: latentSize, fullLatentSize: fullLatentSize,
                                  minimumBlock: minimumBlock, triggerContract: triggerContract,
                                  triggerClasses: classes.isEmpty ? nil : classes)
    }

    /// The trigger contract of a timbre drum export: the `trigger_contract` attribute (2 and
    /// later say so), else 1 when `decode`'s first input is labelled `(trigger)` (exports made
    /// before contract 2 carry no version); nil for other models.
    public var triggerContract: Int? {
        if module.hasAttribute("trigger_contract"), let version = (try? module.attribute("trigger_contract"))?.intValue { return version }
        return methods.first { $0.name == "decode" }?.hasTriggerChannel == true ? 1 : nil
    }
}
