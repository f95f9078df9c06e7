package main

import (
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/sync"
)

// pushFlags are registryFlags with push's own --concurrency: it counts
// blobs in flight over all the images of the push, and its default is
// push's, larger than a pull's: uploads are sequential within a blob, so
// only more blobs at once fill a link whose connections are each capped.
func pushFlags() []cli.Flag {
	out := registryFlags()
	for i, f := range out {
		if f.Names()[0] == "concurrency" {
			out[i] = &cli.IntFlag{Name: "concurrency", Usage: "blobs in flight at once, over all images", Value: sync.DefaultPushConcurrency}
		}
	}
	return out
}
