"""Host side of a bitsparse board: the driver of the serial link and layer runs (docs/link.md)."""
