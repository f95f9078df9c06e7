package archive

import (
	"fmt"
	"strconv"
	"strings"
)

// Volume size presets: the largest file each medium takes. FAT32 stores a
// file's size in 32 bits; DVD and BD capacities are sold in decimal bytes.
var volumePresets = map[string]int64{
	"fat32":  4<<30 - 1,
	"dvd":    4_700_000_000,
	"dvd-dl": 8_500_000_000,
	"bd25":   25_000_000_000,
	"bd50":   50_000_000_000,
}

// MinVolumeSize is the smallest --volume-size: room for a volume's index
// and tar headers with some content beside them.
const MinVolumeSize = 64 << 10

// ParseVolumeSize reads --volume-size: auto (VolumeSizeAuto: the
// destination's file system decides), a preset (fat32, dvd, dvd-dl, bd25,
// bd50) or a number of bytes with an optional suffix. The suffixes follow
// GNU split and dd, what users of air-gap media type already: K, M, G, T
// and KiB, MiB, GiB, TiB are powers of 1024; KB, MB, GB, TB are powers of
// 1000 (so "4.7GB" is a DVD and "4G" is 4 GiB).
func ParseVolumeSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if strings.EqualFold(in, "auto") {
		return VolumeSizeAuto, nil
	}
	if n, ok := volumePresets[strings.ToLower(in)]; ok {
		return n, nil
	}
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimSpace(in[i:])
	mult, ok := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TIB": 1 << 40, "TB": 1e12,
	}[strings.ToUpper(unit)]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" || strings.Count(num, ".") > 1 {
		return 0, fmt.Errorf("volume size %q: use bytes with an optional K, M, G, T (powers of 1024) or KB, MB, GB, TB (powers of 1000) suffix, or fat32, dvd, dvd-dl, bd25, bd50, or auto", s)
	}
	n := f * mult
	if n > 1<<62 {
		return 0, fmt.Errorf("volume size %q is too large", s)
	}
	if int64(n) < MinVolumeSize {
		return 0, fmt.Errorf("volume size %q is below the minimum of %d KiB", s, MinVolumeSize>>10)
	}
	return int64(n), nil
}
