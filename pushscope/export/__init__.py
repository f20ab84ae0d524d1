"""Reports built from the analysed model: JSON (the contract), text, and the other formats. No UI here."""
