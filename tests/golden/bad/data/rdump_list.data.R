data <- list(N = 3)
