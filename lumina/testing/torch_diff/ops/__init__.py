"""The table's rows by op family: each module's ``specs()`` returns the family's ``OpSpec``s, beside
the case strategies they draw from; ``torch_diff.table.OPS`` assembles them."""
