"""Training and experiment code on tiny settings: it runs, learns something, and reports what it did."""
import math

import pytest
import torch

from core import train as tr


def test_lr_schedule_warms_up_then_decays_to_zero():
    r = tr.Recipe(steps=100, lr=1.0, weight_decay=0.0, warmup=0.1)
    assert tr.lr_at(0, r) == pytest.approx(0.1)
    assert tr.lr_at(9, r) == pytest.approx(1.0)
    assert tr.lr_at(10, r) == pytest.approx(1.0)
    assert tr.lr_at(55, r) == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))
    assert tr.lr_at(99, r) < 0.01


def test_normalise_accepts_uint8_and_float_alike():
    x = torch.rand(2, 3, 4, 4)
    q = (x * 255).round().to(torch.uint8)
    assert torch.allclose(tr.normalise(q), tr.normalise(q.float() / 255))
    assert torch.allclose(tr.normalise(torch.full((1, 3, 1, 1), 0.5)), torch.zeros(1, 3, 1, 1))


def test_train_stops_when_asked_and_counts_steps():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    images, labels = torch.rand(32, 3, 8, 8), torch.randint(0, 10, (32,))
    calls = []
    log = tr.train(net, images, labels, tr.Recipe(50, 1e-2, 0.0, batch=8), progress=lambda *a: calls.append(a),
                   should_stop=lambda: len(calls) >= 7)
    assert log["steps"] == 7 and len(calls) == 7 and not net.training


def test_a_tiny_model_learns_a_separable_task():
    torch.manual_seed(0)
    images = torch.rand(256, 3, 8, 8) * 0.2
    labels = torch.arange(256) % 2
    images[labels == 1, 0] += 0.8  # class 1: a bright red channel
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    tr.train(net, images, labels, tr.Recipe(60, 5e-2, 0.0, batch=32))
    assert tr.evaluate(net, images, labels) == 1.0
