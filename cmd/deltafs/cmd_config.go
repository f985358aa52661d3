package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"deltafs/store"
)

func configCommand(env *cliEnv) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "show or change the encoding settings of the store or of a model",
		ArgsUsage: "STORE [MODEL] [KEY [VALUE]]",
		Description: `Without KEY, lists every setting with its value and where the value comes
from: default, store, or model (a model's setting beats the store's). With
KEY, prints its value; with KEY VALUE, keeps VALUE for the store or, when
MODEL is given, for that model only; --unset removes it. The same names are
flags of import and mount, which override the kept values for one command.

Settings:
` + knobHelp(),
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.BoolFlag{Name: "unset", Usage: "remove KEY's value (the store's or the default applies again)"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, 4); err != nil {
				return err
			}
			return env.configAction(c)
		},
	}
}

// knobHelp lists the settings for help texts.
func knobHelp() string {
	var b strings.Builder
	for _, k := range store.Knobs() {
		fmt.Fprintf(&b, "   %-22s %s (default %s)\n", k.Name, k.Usage, k.Default)
	}
	return strings.TrimRight(b.String(), "\n")
}

// isKnob reports whether name is a setting's name.
func isKnob(name string) bool {
	for _, k := range store.Knobs() {
		if k.Name == name {
			return true
		}
	}
	return false
}

// configArgs splits config's arguments after STORE: an argument that names
// a setting starts KEY, anything before it is the model.
func configArgs(args []string) (model, key, value string, hasValue bool, err error) {
	if len(args) > 0 && !isKnob(args[0]) {
		model, args = args[0], args[1:]
		if err := checkModelName("MODEL", model); err != nil {
			return "", "", "", false, err
		}
	}
	switch {
	case len(args) > 2:
		return "", "", "", false, usageErrorf("expected arguments STORE [MODEL] [KEY [VALUE]] (run: deltafs config --help)")
	case len(args) > 0 && !isKnob(args[0]):
		return "", "", "", false, usageErrorf("unknown setting %q (run: deltafs config --help)", args[0])
	case len(args) == 2:
		return model, args[0], args[1], true, nil
	case len(args) == 1:
		return model, args[0], "", false, nil
	}
	return model, "", "", false, nil
}

// settingJSON is one setting in JSON output.
type settingJSON struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

func toSettingsJSON(vals []store.SettingValue) []settingJSON {
	out := make([]settingJSON, len(vals))
	for i, v := range vals {
		out[i] = settingJSON{Name: v.Name, Value: v.Value, Source: string(v.Source)}
	}
	return out
}

func (e *cliEnv) configAction(c *cli.Context) error {
	model, key, value, hasValue, err := configArgs(c.Args().Slice()[1:])
	if err != nil {
		return err
	}
	unset := c.Bool("unset")
	if unset && (key == "" || hasValue) {
		return usageErrorf("--unset takes a KEY and no VALUE")
	}
	if hasValue && value == "" {
		return usageErrorf("empty value for %s (use --unset to remove it)", key)
	}
	write := hasValue || unset
	st, err := e.openStore(c.Args().Get(0), store.Options{ReadOnly: !write})
	if err != nil {
		return err
	}
	defer st.Close()
	if write {
		err = st.SetSetting(c.Context, model, key, value)
	}
	var vals []store.SettingValue
	if err == nil && !write {
		vals, err = st.Settings(c.Context, model, nil)
	}
	if errors.Is(err, store.ErrNotFound) {
		return failf(exitNotFound, err, "model %q does not exist in store %s (list the models with: deltafs ls %s)", model, e.storeDir, e.storeDir)
	}
	if err != nil || write {
		return err
	}
	if key != "" {
		for _, v := range vals {
			if v.Name == key {
				vals = []store.SettingValue{v}
			}
		}
	}
	if c.Bool("json") {
		if key != "" {
			return writeJSON(e.stdout, toSettingsJSON(vals)[0])
		}
		return writeJSON(e.stdout, toSettingsJSON(vals))
	}
	if key != "" {
		_, err := fmt.Fprintln(e.stdout, vals[0].Value)
		return err
	}
	return printSettings(e.stdout, vals)
}

// printSettings prints settings as a table: name, value, source.
func printSettings(w io.Writer, vals []store.SettingValue) error {
	tw := newTable(w)
	for _, v := range vals {
		fmt.Fprintf(tw, "%s\t%s\t(%s)\n", v.Name, v.Value, v.Source)
	}
	return tw.Flush()
}

// settingsFlags are the flags overriding each setting for one command.
func settingsFlags() []cli.Flag {
	var fs []cli.Flag
	for _, k := range store.Knobs() {
		fs = append(fs, &cli.StringFlag{Name: k.Name, Usage: k.Usage + " (default: the model's, the store's, or " + k.Default + ")", Category: "Settings (see deltafs config --help)"})
	}
	return fs
}

// settingsOverrides collects the settings flags given.
func settingsOverrides(c *cli.Context) (store.Overrides, error) {
	over := store.Overrides{}
	for _, k := range store.Knobs() {
		if c.IsSet(k.Name) {
			over[k.Name] = c.String(k.Name)
		}
	}
	if err := over.Validate(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	return over, nil
}
