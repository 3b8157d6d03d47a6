package llama

import "math"

// InvFreq returns RoPE's inverse frequencies θ_i, i < head_dim/2, computed
// as Hugging Face does in float32: 1 / theta^(2i/head_dim), then the
// "llama3" rescaling when the config asks for it.
func InvFreq(c *Config) []float32 {
	hd := c.HeadSize()
	inv := make([]float32, hd/2)
	for i := range inv {
		e := float32(2*i) / float32(hd)
		inv[i] = 1 / float32(math.Pow(c.RopeTheta, float64(e)))
	}
	if c.RopeScaling.Kind() != "llama3" {
		return inv
	}
	r := c.RopeScaling
	old := float64(r.OriginalMaxPositionEmbeddings)
	lowWavelen := old / r.LowFreqFactor
	highWavelen := old / r.HighFreqFactor
	for i, f := range inv {
		wavelen := 2 * math.Pi / float64(f)
		switch {
		case wavelen < highWavelen: // high frequency: unchanged
		case wavelen > lowWavelen: // low frequency: divided by the factor
			inv[i] = float32(float64(f) / r.Factor)
		default: // in between: interpolated
			smooth := (old/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
			inv[i] = float32((1-smooth)*float64(f)/r.Factor + smooth*float64(f))
		}
	}
	return inv
}

// RoPETables returns cos and sin [n, head_dim/2] for positions 0..n−1:
// angle = float32(pos)·θ_i rounded to float32, as Hugging Face computes
// it, then cos and sin rounded to float32.
func RoPETables(c *Config, n int) (cos, sin []float32) {
	inv := InvFreq(c)
	half := len(inv)
	cos = make([]float32, n*half)
	sin = make([]float32, n*half)
	for p := 0; p < n; p++ {
		for i, f := range inv {
			a := float64(float32(p) * f)
			cos[p*half+i] = float32(math.Cos(a))
			sin[p*half+i] = float32(math.Sin(a))
		}
	}
	return cos, sin
}
