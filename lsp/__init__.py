"""Language server adapter over codeassist (pygls). Not yet implemented: see the LSP issue."""
