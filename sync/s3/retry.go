package s3

import (
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/oci-ferry/ferry/layout"
)

// Retryable says whether a failed blob upload is worth starting again
// from a fresh read of the source. minio-go retries a request only when
// it can rewind the body, which a streamed blob is not, so a server's
// "slow down" or a dropped connection would otherwise fail the copy.
// Bytes that did not match are never retried: the source is wrong, and
// sending it again would not change that.
func Retryable(err error) bool {
	if errors.Is(err, layout.ErrDigestMismatch) || errors.Is(err, layout.ErrSizeMismatch) {
		return false
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed":
			return true
		}
		return er.StatusCode >= http.StatusInternalServerError || er.StatusCode == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
