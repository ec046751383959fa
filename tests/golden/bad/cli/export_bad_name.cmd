export {model} --data {data} -o bad/cli/never_written.o --name 1abc
