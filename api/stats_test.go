package api

import (
	"encoding/json"
	"math"
	"testing"
)

func TestSeriesWriteThemselvesAsJSONArrays(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a missing value is null", Floats{1, Float(math.NaN()), 0.5}, `[1,null,0.5]`},
		{"a value keeps four decimals", Floats{2.0 / 3, Float(math.Inf(1))}, `[0.6667,null]`},
		{"an empty series is an empty array", Floats{}, `[]`},
		{"counts are integers", Series{0, 1, 1 << 40}, `[0,1,1099511627776]`},
		{"a nil series of counts is null", Series(nil), `null`},
		{"one number alone", Float(math.NaN()), `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("%s, want %s", b, tc.want)
			}
		})
	}
}

func TestFloatsReadBack(t *testing.T) {
	var got struct {
		F Floats `json:"f"`
		S Series `json:"s"`
	}
	if err := json.Unmarshal([]byte(`{"f":[1.5,null],"s":[3,4]}`), &got); err != nil {
		t.Fatal(err)
	}
	if got.F[0] != 1.5 || !math.IsNaN(float64(got.F[1])) || got.S[1] != 4 {
		t.Fatalf("read back %+v", got)
	}
	if err := json.Unmarshal([]byte(`{"f":["x"]}`), &got); err == nil {
		t.Fatal("a string was read as a number")
	}
}
