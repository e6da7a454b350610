import Trainer
