"""The host link: UART, frames, command executor (docs/link.md)."""
