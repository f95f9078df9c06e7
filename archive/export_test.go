package archive

// Watched gives the resume tests import options that count the bytes
// read from archive files.
func Watched(opts ImportOptions, fn func(n int)) ImportOptions {
	opts.watch = fn
	return opts
}
