import Foundation

/// Magnitudes in decibels with a floor, and back.
///
/// A floor keeps silence finite (log 0 is −∞) and sets how much of the quiet tail a
/// picture or a model sees: values more than `rangeDB` below the reference become
/// exactly `reference − rangeDB`.
public enum LogMagnitude {
    /// 20·log10(max(m, floor)) − 20·log10(reference), with the floor `rangeDB` below the
    /// reference. The reference is the largest magnitude when nil (so the loudest bin is 0 dB).
    public static func decibels(_ magnitude: [Float], rangeDB: Float = 80, reference: Float? = nil) -> [Float] {
        let ref = max(reference ?? (magnitude.max() ?? 0), Float.leastNormalMagnitude)
        let floor = ref * pow(10, -rangeDB / 20)
        let refDB = 20 * log10(ref)
        return magnitude.map { 20 * log10(max($0, floor)) - refDB }
    }

    /// Magnitudes from decibels relative to `reference` (the inverse of `decibels`, above the floor).
    public static func magnitude(decibels: [Float], reference: Float = 1) -> [Float] {
        decibels.map { reference * pow(10, $0 / 20) }
    }

    /// Natural log of max(m, floor): the "log-magnitude" many models are trained on.
    public static func naturalLog(_ magnitude: [Float], floor: Float = 1e-5) -> [Float] {
        magnitude.map { log(max($0, floor)) }
    }
}
