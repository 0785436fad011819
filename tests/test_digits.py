import pytest
import torch

from course_utils.digits import DigitsDataset, load_digits


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes_dtypes_and_range(size):
    images, labels = load_digits(size=size)
    assert images.shape == (len(labels), 1, size, size)
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.min() >= 0 and images.max() <= 1
    assert images.max() == 1  # full ink is reached: scaled by 16, not by an arbitrary max
    assert set(labels.tolist()) == set(range(10))


def test_split_is_80_20_disjoint_and_complete():
    train_x, train_y = load_digits(split="train")
    test_x, test_y = load_digits(split="test")
    all_x, all_y = load_digits(split="all")
    assert len(all_y) == 1797
    assert len(train_y) + len(test_y) == len(all_y)
    assert abs(len(test_y) / len(all_y) - 0.2) < 0.01
    # the two halves share no digit and together make up all of them
    rows = lambda x: sorted(map(tuple, x.flatten(1).tolist()))  # noqa: E731
    assert not set(rows(train_x)) & set(rows(test_x))
    assert sorted(rows(train_x) + rows(test_x)) == rows(all_x)
    assert sorted(train_y.tolist() + test_y.tolist()) == sorted(all_y.tolist())


def test_split_is_stratified():
    _, test_y = load_digits(split="test")
    counts = torch.bincount(test_y, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # about 36 of each digit


def test_split_is_deterministic_and_seeded():
    a = load_digits(split="test", seed=0)
    b = load_digits(split="test", seed=0)
    c = load_digits(split="test", seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_upsampling_keeps_the_digit():
    small, _ = load_digits(size=8, split="test")
    big, _ = load_digits(size=32, split="test")
    down = torch.nn.functional.avg_pool2d(big, 4).flatten()
    assert torch.corrcoef(torch.stack([down, small.flatten()]))[0, 1] > 0.95


def test_results_do_not_share_memory():
    first, _ = load_digits()
    first.zero_()
    assert load_digits().images.max() == 1


def test_dataset():
    data = DigitsDataset(size=16, split="test")
    image, label = data[0]
    assert len(data) == len(load_digits(split="test").labels)
    assert image.shape == (1, 16, 16) and 0 <= int(label) <= 9
    batch, labels = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
    assert batch.shape == (4, 1, 16, 16) and labels.shape == (4,)


@pytest.mark.parametrize("bad", [7, 28, 64, "8", True])
def test_rejects_bad_size(bad):
    with pytest.raises(ValueError, match=r"size must be one of \(8, 16, 32\)"):
        load_digits(size=bad)


@pytest.mark.parametrize("bad", ["val", "Train", None])
def test_rejects_bad_split(bad):
    with pytest.raises(ValueError, match="split must be 'train' \\(80%\\), 'test' \\(20%\\) or 'all'"):
        load_digits(split=bad)


@pytest.mark.parametrize("bad", [-1, 0.5, "0"])
def test_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        load_digits(seed=bad)


def test_dataset_rejects_bad_args():
    with pytest.raises(ValueError, match="size must be one of"):
        DigitsDataset(size=10)
