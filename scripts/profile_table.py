"""Print the fit table of docs/node.md from the shipped profiles (rerun after `dcsim calibrate`)."""

from dcsim.node.catalog import shipped_profiles


def main() -> None:
    print("| profile | points | γ | MFU | MBU | p | t_fixed ms | t_seq µs | P_base W | P_compute W | P_memory W "
          "| γ value | MAPE tok/s | MAPE J/tok | max err tok/s / J | LOO tok/s | LOO J/tok | cap max err |")
    print("|" + "---|" * 18)
    for name, pr in sorted(shipped_profiles().items()):
        p, f = pr["params"], pr["fit"]
        g = "fitted" if str(pr.get("gamma_source", "")).startswith("fitted") else "assumed"
        cap = f.get("max_err_cap_pct")
        print(f"| {name} | {f['n_points']} | {g} | {p['mfu']:.3f} | {p['mbu']:.3f} | {p['overlap_p']:.2f} "
              f"| {p['t_fixed_s'] * 1e3:.2f} | {p['t_seq_s'] * 1e6:.1f} | {p['p_base_w']:.0f} | {p['p_compute_w']:.0f} "
              f"| {p['p_memory_w']:.0f} | {p['gamma']:.2f} | {f['mape_tok_s_pct']:.2f}% | {f['mape_j_per_tok_pct']:.2f}% "
              f"| {f['max_err_tok_s_pct']:.1f}% / {f['max_err_j_per_tok_pct']:.1f}% | {f['loo_mape_tok_s_pct']:.2f}% "
              f"| {f['loo_mape_j_per_tok_pct']:.2f}% | {'—' if cap is None else f'{cap:.2f}%'} |")


if __name__ == "__main__":
    main()
