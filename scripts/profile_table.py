"""Print the fit tables of docs/node.md from the shipped profiles and pooled fits (rerun after `dcsim calibrate`).

The per-group profiles carry t_fp8_layer_s = 0 (one group cannot identify it); the pooled fits carry it. Only a pooled fit
can carry the host's per-sequence wait t_host_seq_s (0 where its data do not identify it)."""

from dcsim.node.catalog import pooled_profiles, shipped_profiles


def main() -> None:
    print("| profile | values | γ | MFU | MBU | p | t_layer µs | t_seq_layer µs | t_moe_layer µs | P_compute W "
          "| P_memory W | P_sync W | γ value | in-sample error | warnings |")
    print("|" + "---|" * 15)
    for name, pr in sorted(shipped_profiles().items()):
        p, f = pr["params"], pr["fit"]
        g = "fitted" if str(pr.get("gamma_source", "")).startswith("fitted") else "assumed"
        if "mape_tok_s_pct" in f:
            err = (f"MAPE tok/s {f['mape_tok_s_pct']:.1f} %, J/tok {f['mape_j_per_tok_pct']:.1f} % "
                   f"(max {f['max_err_tok_s_pct']:.1f} / {f['max_err_j_per_tok_pct']:.1f} %)"
                   + (f", median ITL {f['mape_itl_pct']:.1f} % (max {f['max_err_itl_pct']:.1f} %)"
                      if "mape_itl_pct" in f else ""))
        else:
            err = (f"MAPE prompt {f['mape_prompt_time_pct']:.1f} %, token {f['mape_token_time_pct']:.1f} %, "
                   f"avg W {f['mape_avg_power_pct']:.1f} %, peak W {f['mape_peak_power_pct']:.1f} %")
        print(f"| {name} | {f['n_values']} | {g} | {p['mfu']:.3f} | {p['mbu']:.3f} | {p['overlap_p']:.2f} "
              f"| {p['t_layer_s'] * 1e6:.1f} | {p['t_seq_layer_s'] * 1e6:.3f} "
              f"| {p.get('t_moe_layer_s', 0.0) * 1e6:.1f} | {p['p_compute_w']:.0f} "
              f"| {p['p_memory_w']:.0f} | {p['p_sync_w']:.0f} | {p['gamma']:.2f} | {err} | {len(pr['warnings'])} |")
    print()
    print("| pooled GPU fit | groups | MFU | MBU | p | t_layer µs | t_seq_layer µs | t_moe_layer µs | t_fp8_layer µs "
          "| t_host_seq µs | P_compute W | P_memory W | P_sync W | γ value | warnings |")
    print("|" + "---|" * 15)
    for gpu, pr in sorted(pooled_profiles().items()):
        p = pr["params"]
        print(f"| pooled-{gpu} | {len(pr['pooled_groups'])} | {p['mfu']:.3f} | {p['mbu']:.3f} | {p['overlap_p']:.2f} "
              f"| {p['t_layer_s'] * 1e6:.1f} | {p['t_seq_layer_s'] * 1e6:.3f} | {p.get('t_moe_layer_s', 0.0) * 1e6:.1f} "
              f"| {p.get('t_fp8_layer_s', 0.0) * 1e6:.1f} | {p.get('t_host_seq_s', 0.0) * 1e6:.1f} "
              f"| {p['p_compute_w']:.0f} | {p['p_memory_w']:.0f} | {p['p_sync_w']:.0f} | {p['gamma']:.2f} "
              f"| {len(pr['warnings'])} |")
    print()
    print("| pooled GPU fit | left-out pair | MAPE tok/s | MAPE J/tok | max tok/s | max J/tok |")
    print("|---|---|---|---|---|---|")
    for gpu, pr in sorted(pooled_profiles().items()):
        for r in pr["leave_one_model_out"]:
            print(f"| pooled-{gpu} | {r['profile']} | {r['mape_tok_s_pct']:.1f} % | {r['mape_j_per_tok_pct']:.1f} % "
                  f"| {r['max_err_tok_s_pct']:.1f} % | {r['max_err_j_per_tok_pct']:.1f} % |")


if __name__ == "__main__":
    main()
