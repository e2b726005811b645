"""A tiny language-model training run, shared by the Trainer's tests and the tests that break one."""

import rnnkit
from rnnkit.models.language_model import LanguageModel
from rnnkit.train import LanguageModelTask, LearningRateSchedule, Trainer, TrainerConfig
from rnnkit.train.language_modeling import build_vocab, split_text

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


def make_run(tmp_path=None, seed=0, dropout=0.2, **config):
    train_text, val_text = split_text(TEXT, 0.2)
    vocab = build_vocab("char", train_text)
    task = LanguageModelTask(vocab.transform(train_text), vocab.transform(val_text), batch_size=4, seq_len=6)
    model = LanguageModel(len(vocab), 8, num_layers=2, embedding_dim=4, dropout=dropout, seed=seed)
    optimizer = rnnkit.optim.Adam(model.parameters(), lr=1e-2)
    settings = {"epochs": 2, "progress": False, "schedule": LearningRateSchedule(
        "cosine", lr=1e-2, warmup_steps=3, total_steps=2 * task.steps_per_epoch)}
    settings.update(config)
    trainer = Trainer(model, task, optimizer, TrainerConfig(**settings), run_dir=tmp_path, log=lambda message: None)
    return trainer
