check bad/cli
