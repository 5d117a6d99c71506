// `SHA256` moved to the `Checksum` module (the model library needs it without Dataset's
// native libraries); Dataset's users still see it through Dataset.
@_exported import Checksum
