package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// docsCommand prints the CLI reference as Markdown. The README embeds its
// output and a test fails when the two drift apart.
func docsCommand() *cli.Command {
	return &cli.Command{
		Name:   "docs",
		Usage:  "print the CLI reference as Markdown",
		Hidden: true,
		Action: func(c *cli.Context) error {
			writeReference(c.App.Writer, c.App)
			return nil
		},
	}
}

func writeReference(w io.Writer, app *cli.App) {
	fmt.Fprintf(w, "Global: `ferry [--help] [--version] COMMAND`. Flags may come before or after arguments.\n\n")
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(w, "### `ferry %s %s`\n\n%s.\n\n", c.Name, c.ArgsUsage, strings.ToUpper(c.Usage[:1])+c.Usage[1:])
		if c.Description != "" {
			fmt.Fprintf(w, "%s\n\n", strings.ReplaceAll(c.Description, "\n", " "))
		}
		// Every command has --help; the Global line says so.
		flags := slices.DeleteFunc(slices.Clone(c.Flags), func(f cli.Flag) bool { return f.Names()[0] == "help" })
		if len(flags) > 0 {
			fmt.Fprintf(w, "| flag | meaning |\n|---|---|\n")
			for _, f := range flags {
				if df, ok := f.(cli.DocGenerationFlag); ok {
					name := "--" + f.Names()[0]
					if df.TakesValue() {
						name += " " + valueName(df.GetUsage())
					}
					usage := strings.ReplaceAll(df.GetUsage(), "`", "")
					if v := df.GetDefaultText(); v != "" && df.TakesValue() {
						usage += " (default " + v + ")"
					}
					if rf, ok := f.(cli.RequiredFlag); ok && rf.IsRequired() {
						usage += " (required)"
					}
					fmt.Fprintf(w, "| `%s` | %s |\n", name, usage)
				}
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "### Exit codes\n\n| code | meaning |\n|---|---|\n")
	fmt.Fprintf(w, "| %d | success; for `verify`, the input is sound |\n", exitOK)
	fmt.Fprintf(w, "| %d | the operation failed (nothing was committed), or `verify` found problems |\n", exitFailed)
	fmt.Fprintf(w, "| %d | usage error: unknown command or flag, wrong arguments |\n", exitUsage)
	fmt.Fprintf(w, "| %d | interrupted (SIGINT/SIGTERM); nothing was committed |\n", exitInterrupted)
	fmt.Fprintf(w, "\nWith `--json`, a command that fails prints `{\"error\": MESSAGE, \"code\": EXIT}` on stdout instead of its result\n"+
		"(the message goes to stderr as well); `verify --json` prints its report, problems included, for any input that exists.\n"+
		"Human output escapes control and bidirectional characters that came from the input (`\\x1b`, `\\r`, `\\u202e`);\n"+
		"`--json` gives every value exactly, with such characters as JSON escapes.\n")
}

// valueName is the placeholder in backquotes in a flag's usage, as urfave
// renders it in --help.
func valueName(usage string) string {
	if i := strings.Index(usage, "`"); i >= 0 {
		if j := strings.Index(usage[i+1:], "`"); j >= 0 {
			return usage[i+1 : i+1+j]
		}
	}
	return "VALUE"
}
