/// Control of the engine: OSC 1.0 over UDP, the command set, session files.
public enum Control {}
