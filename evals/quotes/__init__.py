"""`citewise eval quotes`: the quotations of answers written by any system, checked against the files they name."""
