ir {model} --stage ast
