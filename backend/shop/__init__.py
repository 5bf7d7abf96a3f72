"""The shop: listings of batches on sale, and quotes."""
