// Command hello greets; examples/go-cache builds it.
package main

import "fmt"

func main() { fmt.Println(greeting("narwhal")) }

func greeting(name string) string { return "hello, " + name }
