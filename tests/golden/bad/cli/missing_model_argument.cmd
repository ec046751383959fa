grad
