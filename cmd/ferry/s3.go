package main

import (
	"github.com/urfave/cli/v2"

	"github.com/oci-ferry/ferry/sync/s3"
)

// s3Flags reach an S3-compatible server for s3://BUCKET/PREFIX endpoints.
// Credentials are never flags: they come from the AWS variables and files,
// as for every AWS tool, so they stay out of shell history and ps.
func s3Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "s3-endpoint", Usage: "S3 server `URL` for s3:// endpoints: https://HOST[:PORT], or http:// for plain HTTP (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)"},
		&cli.StringFlag{Name: "s3-region", Usage: "S3 `REGION` to sign for (default: $AWS_REGION, $AWS_DEFAULT_REGION, else the bucket's on AWS, us-east-1 elsewhere)"},
		&cli.BoolFlag{Name: "s3-path-style", Usage: "address buckets as HOST/BUCKET rather than BUCKET.HOST, as most on-premises S3 servers need"},
	}
}

// s3Config reads the S3 flags; --ca-file is shared with the registries.
func s3Config(c *cli.Context) s3.Config {
	return s3.Config{Endpoint: c.String("s3-endpoint"), Region: c.String("s3-region"), PathStyle: c.Bool("s3-path-style"), CAFile: c.String("ca-file")}
}

// s3Help is what the commands that take s3:// say of it.
const s3Help = "s3://BUCKET/PREFIX is an OCI layout in an S3 bucket (docs/FORMAT.md, Layouts in S3): blobs are written first under\n" +
	"PREFIX/blobs/<alg>/<hex>, skipped when present with the right size, index.json last and merged with the names\n" +
	"already there; reading it back verifies every blob. Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY\n" +
	"and AWS_SESSION_TOKEN, or the AWS_PROFILE profile of AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials); none: anonymous."
