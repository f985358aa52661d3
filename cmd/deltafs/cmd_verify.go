package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func verifyCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "decode every file and check its checksums",
		ArgsUsage: "STORE [PATH]",
		Description: `Decodes every file under PATH (default: the whole store) and checks its
SHA-256. Each corrupt file is named with its object; the exit code is 6
when anything is corrupt.`,
		Flags: []cli.Flag{jsonFlag(), noProgressFlag()},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 2); err != nil {
				return err
			}
			return env.verifyAction(c)
		},
	}
}

// problemJSON is one problem in verify --json.
type problemJSON struct {
	Path   string `json:"path"`
	Object string `json:"object,omitempty"`
	Error  string `json:"error"`
}

// verifyJSON is the output of verify --json.
type verifyJSON struct {
	Path     string        `json:"path"`
	OK       bool          `json:"ok"`
	Problems []problemJSON `json:"problems"`
}

func (e *cliEnv) verifyAction(c *cli.Context) error {
	st, p, _, err := e.openReadOnlyAt(c)
	if err != nil {
		return err
	}
	defer st.Close()
	progress, clearBar := e.progress(c, "verifying "+displayPath(p))
	problems, err := st.Verify(c.Context, p, progress)
	clearBar()
	if err != nil {
		return fmt.Errorf("verifying %s: %w", displayPath(p), err)
	}

	if c.Bool("json") {
		out := verifyJSON{Path: displayPath(p), OK: len(problems) == 0, Problems: []problemJSON{}}
		for _, pr := range problems {
			out.Problems = append(out.Problems, problemJSON{Path: pr.Path, Object: pr.Object, Error: errString(pr.Err)})
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		for _, pr := range problems {
			obj := ""
			if pr.Object != "" {
				obj = " (object " + pr.Object + ")"
			}
			fmt.Fprintf(e.stdout, "CORRUPT %s%s: %s\n", displayPath(pr.Path), obj, oneLine(errString(pr.Err)))
		}
		if len(problems) == 0 {
			fmt.Fprintf(e.stdout, "ok: every file under %s decodes and matches its checksum\n", displayPath(p))
		}
	}
	if len(problems) > 0 {
		return failf(exitCorrupt, nil, "%d corrupt file(s) under %s in store %s (restore them from a copy, or remove them with deltafs rm)", corruptPaths(problems), displayPath(p), e.storeDir)
	}
	return nil
}

// errString is err's text, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// corruptPaths counts the distinct paths among problems.
func corruptPaths(problems []store.Problem) int {
	seen := make(map[string]bool, len(problems))
	for _, pr := range problems {
		seen[pr.Path] = true
	}
	return len(seen)
}
