package layout

import "io"

// Underlying is the reader whose bytes v hashes, for an uploader that can
// send them faster than through v (the kernel's sendfile from the file
// beneath) while still hashing every byte through v beside the send.
func (v *VerifyReader) Underlying() io.Reader { return v.r }

// Underlying is the reader p counts, for the same reason.
func (p *progressReader) Underlying() io.Reader { return p.r }
