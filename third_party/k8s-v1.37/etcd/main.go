// etcd's own entry point (go.etcd.io/etcd/v3's main.go) is a module of its own with replace
// directives; this calls the same etcdmain.Main from the server module k8s.io/kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
