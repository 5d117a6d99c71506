// The typed commands, node specs and status types the engine takes and gives live in
// Protocol (which has no libtorch, so light clients share them); every file of Engine,
// and every module that imports Engine, sees them.
@_exported import Protocol
