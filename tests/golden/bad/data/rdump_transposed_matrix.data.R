X <- 
structure(c(1, 2, 3, 4, 5, 6),
.Dim = c(3, 2))
