// Command synthmodels writes a synthetic base model and fine-tunes of it as
// directories OUT/base/, OUT/ft1/, OUT/ft2/, ... (see package
// deltafs/internal/synth for the distributions): of .npy files, or with
// -format safetensors as Hugging Face style folders (model.safetensors and
// a config.json). `make demo` uses it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"deltafs/internal/synth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "synthmodels:", err)
		os.Exit(1)
	}
}

// run parses args, writes the models and reports them on stdout; usage
// goes to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	def, ftDef := synth.DefaultConfig(), synth.DefaultFineTune(0)
	fs := flag.NewFlagSet("synthmodels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (required)")
	dtype := fs.String("dtype", string(def.Precision), "precision: float32, float16 or bfloat16")
	layers := fs.Int("layers", def.Layers, "transformer layers")
	dim := fs.Int("d", def.Dim, "model width")
	ffn := fs.Int("ffn", 0, "feed-forward width (0: 43/16 of -d, rounded to 16, as LLaMA)")
	vocab := fs.Int("vocab", def.Vocab, "vocabulary size")
	seed := fs.Uint64("seed", def.Seed, "seed of the base model; fine-tune i uses seed+i")
	fineTunes := fs.Int("finetunes", 2, "number of fine-tunes to write")
	rank := fs.Int("rank", ftDef.Rank, "rank of each fine-tune's update")
	update := fs.Float64("update", ftDef.UpdateScale, "low-rank update std relative to each tensor's std")
	noise := fs.Float64("noise", ftDef.NoiseScale, "dense noise std relative to each tensor's std")
	frozen := fs.Float64("frozen", ftDef.FrozenFraction, "fraction of tensors left identical to the base")
	retrained := fs.Float64("retrained", ftDef.RetrainedFraction, "fraction of tensors drawn anew")
	format := fs.String("format", "npy", "npy (one file a tensor) or safetensors (model.safetensors + config.json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-out DIR is required and no arguments are taken")
	}
	if *fineTunes < 0 || *fineTunes > 1000 {
		return fmt.Errorf("-finetunes %d out of range [0, 1000]", *fineTunes)
	}
	if *format != "npy" && *format != "safetensors" {
		return fmt.Errorf("-format %q: want npy or safetensors", *format)
	}
	prec, err := synth.ParsePrecision(*dtype)
	if err != nil {
		return err
	}
	cfg := def
	cfg.Precision, cfg.Layers, cfg.Dim, cfg.Vocab, cfg.Seed = prec, *layers, *dim, *vocab, *seed
	cfg.FFN = *ffn
	if cfg.FFN == 0 {
		cfg.FFN = max(16, (cfg.Dim*43/16+8)/16*16)
	}
	fineTune := func(i int) synth.FineTuneConfig {
		return synth.FineTuneConfig{Seed: cfg.Seed + uint64(i), Rank: *rank, UpdateScale: *update,
			NoiseScale: *noise, FrozenFraction: *frozen, RetrainedFraction: *retrained}
	}
	if err := fineTune(0).Validate(); err != nil {
		return err
	}
	base, err := synth.Base(cfg)
	if err != nil {
		return err
	}
	write := func(dir string, ts []synth.Tensor) error {
		if *format == "npy" {
			return synth.WriteModel(dir, ts)
		}
		return writeHF(dir, cfg, ts)
	}
	if err := write(filepath.Join(*out, "base"), base); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "base:", synth.Describe(cfg))
	for i := 1; i <= *fineTunes; i++ {
		ft := fineTune(i)
		tuned, err := synth.FineTune(base, ft)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("ft%d", i)
		if err := write(filepath.Join(*out, name), tuned); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", name, ft.Describe())
	}
	return nil
}

// writeHF writes a Hugging Face style folder: dir/model.safetensors with
// every tensor and dir/config.json describing the architecture.
func writeHF(dir string, cfg synth.Config, ts []synth.Tensor) error {
	if err := synth.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts); err != nil {
		return err
	}
	dtype := map[synth.Precision]string{synth.Float32: "float32", synth.Float16: "float16", synth.BFloat16: "bfloat16"}[cfg.Precision]
	config := "{\n" +
		"  \"architectures\": [\"LlamaForCausalLM\"],\n" +
		"  \"hidden_size\": " + strconv.Itoa(cfg.Dim) + ",\n" +
		"  \"intermediate_size\": " + strconv.Itoa(cfg.FFN) + ",\n" +
		"  \"model_type\": \"llama\",\n" +
		"  \"num_hidden_layers\": " + strconv.Itoa(cfg.Layers) + ",\n" +
		"  \"torch_dtype\": \"" + dtype + "\",\n" +
		"  \"vocab_size\": " + strconv.Itoa(cfg.Vocab) + "\n" +
		"}\n"
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
		return fmt.Errorf("writing config.json: %w", err)
	}
	return nil
}
