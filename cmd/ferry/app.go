package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes, documented in the README: scripts rely on them.
const (
	exitOK          = 0   // success; for verify: the input is sound
	exitFailed      = 1   // the operation failed, or verify found problems
	exitUsage       = 2   // bad command line
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError marks a wrong command line, so it maps to exit 2 and prints
// the command's help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// failedError carries exit 1 without a message of its own: verify has
// already printed its report.
var errReported = errors.New("reported")

// newApp builds the CLI. Commands write to the app's writers only, so
// tests run it in-process.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "ferry",
		Usage:     "carry container images across an air gap, verified",
		Version:   version,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Description: "ferry saves images into self-describing OCI archives (.tar, .tar.gz, .tar.zst) that docker, podman,\n" +
			"containerd and skopeo load natively, verifies every blob on import, and audits archives with `ferry verify`.\n" +
			"References use docker's grammar name[:tag][@digest]; busybox means docker.io/library/busybox:latest.",
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		// urfave's own --help and --version are package variables it
		// writes parse state into; this App brings its own (see helpFlag).
		HideHelp:    true,
		HideVersion: true,
		Flags:       []cli.Flag{helpFlag(), &cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version", DisableDefaultText: true}},
		// HideVersion is only there to keep urfave's shared flag out: the
		// help still shows the version.
		CustomAppHelpTemplate: strings.ReplaceAll(cli.AppHelpTemplate, "{{if not .HideVersion}}", "{{if true}}"),
		ExitErrHandler:        func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q", c.Args().First())
			}
			if c.Bool("version") {
				cli.ShowVersion(c)
				return nil
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			pullCommand(),
			pushCommand(),
			copyCommand(),
			importCommand(),
			exportCommand(),
			verifyCommand(),
			lsCommand(),
			inspectCommand(),
			tagCommand(),
			rmCommand(),
			gcCommand(),
			haveCommand(),
			serveCommand(),
			docsCommand(),
		},
	}
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		c.HideHelp = true
		c.Flags = append(c.Flags, helpFlag())
	}
	return app
}

// helpFlag is --help, built for each App as every other flag is: urfave
// shows help when a flag of cli.HelpFlag's names is set, whichever value
// holds it, so its own shared one need not be used.
func helpFlag() cli.Flag {
	return &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	args = permute(app, args)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errReported) {
		return exitFailed // the report, text or JSON, is out already
	}
	code, msg, hint := exitFailed, err.Error(), ""
	var ue usageError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		code, msg = exitInterrupted, fmt.Sprintf("interrupted; nothing was committed (%v)", err)
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "Required flag"):
		code, hint = exitUsage, "\nRun 'ferry --help' or 'ferry COMMAND --help' for usage."
	}
	hprintf(stderr, "ferry: %s"+hint+"\n", msg)
	if wantsJSON(app, args) {
		// A script reading stdout learns of the failure from stdout too,
		// rather than from an empty document.
		printJSON(stdout, jsonError{Error: msg, Code: code})
	}
	return code
}

// jsonError is what a command given --json prints on stdout when it
// fails; the README documents its shape.
type jsonError struct {
	Error string `json:"error"`
	Code  int    `json:"code"` // the exit code
}

// wantsJSON reports whether the command line asks the command for --json.
// It reads the (permuted) arguments rather than the parsed flags, so that
// a command line urfave refused to parse still gets its JSON error.
func wantsJSON(app *cli.App, args []string) bool {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i++
	}
	if i >= len(args) {
		return false
	}
	cmd := app.Command(args[i])
	if cmd == nil || !slices.ContainsFunc(cmd.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "json") }) {
		return false
	}
	want := false
	for _, a := range args[i+1:] {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "json" {
			continue
		}
		want = true
		if hasVal {
			want, _ = strconv.ParseBool(val)
		}
	}
	return want
}

// permute moves flags in front of positional arguments. urfave/cli v2 stops
// parsing flags at the first argument, but users type flags anywhere, as
// in `ferry import a.tar --into dir`.
func permute(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	i := 1
	for ; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			cmd = app.Command(args[i])
			break
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			pos = append(pos, rest[j+1:]...)
			j = len(rest)
		case a == "-" || !strings.HasPrefix(a, "-"):
			pos = append(pos, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
		}
	}
	out := append(append([]string{}, args[:i+1]...), flags...)
	if len(pos) > 0 {
		out = append(append(out, "--"), pos...)
	}
	return out
}

// needArgs checks the positional argument count.
func needArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		return usagef("%s: expected %s, got %d argument(s)", c.Command.Name, c.Command.ArgsUsage, n)
	}
	return nil
}
