/// The live engine: nodes and buses, the real-time kernel, inference workers, JACK, the offline renderer.
public enum Engine {}
