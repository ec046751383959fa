check bad/cli/no_such_model.lat
