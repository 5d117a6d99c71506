/// Pictures people look at, drawn with cairo: spectrograms, loss curves, latent maps.
public enum Plot {}
