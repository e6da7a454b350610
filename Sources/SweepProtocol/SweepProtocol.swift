// The wire contract between coordinator and workers (PROTOCOL.md).
