"""`python -m d2l_helpers`: make Fashion-MNIST available (used by `make data` and `make gpu-data`)."""
from .data import DataError, candidate_dirs, copy_files, load_fashion_mnist, locate


def main(argv=None) -> int:
    """`python -m d2l_helpers [--where | --copy-to DIR]`: make the dataset available and say where it is."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--where", action="store_true",
                        help="only report where the files are; never download (exit 1 if absent)")
    parser.add_argument("--copy-to", metavar="DIR",
                        help="also copy the four files, gzipped and verified, into DIR (e.g. .gpu-data, "
                             "to carry to a GPU machine)")
    args = parser.parse_args(argv)
    if args.where:
        folder = locate()
        print(folder if folder else "Fashion-MNIST not found in " +
              ", ".join(map(str, candidate_dirs())))
        return 0 if folder else 1
    try:
        dataset = load_fashion_mnist()
        copied = copy_files(args.copy_to) if args.copy_to else None
    except (DataError, OSError) as err:
        print(f"error: {err}")
        return 1
    print(f"Fashion-MNIST ready in {locate()}: {len(dataset.train_labels)} training and "
          f"{len(dataset.test_labels)} test images, checksums verified.")
    if copied:
        print(f"Copied the four files to {copied}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
