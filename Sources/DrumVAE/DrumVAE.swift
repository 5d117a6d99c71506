/// The drum one-shot VAE: model, training, generation, report, TorchScript export.
public enum DrumVAE {}
