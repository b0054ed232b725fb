/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-train-dialog"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "vg-config.h"
#include "vg-train.h"
#include "visage-train-choices.h"

typedef struct {
  const char *name;
  const char *label; /* translated when shown */
} ChoiceLabel;

struct _VisageTrainChoices {
  const char *const *(*names) (void); /* the engine's table, NULL-terminated */
  const ChoiceLabel *labels;          /* NULL-terminated; NULL: the names are the labels */
  const char *extra, *extra_label;    /* a choice after the engine's names, or NULL */
};

/* Short enough to tell apart where the row shows them; "CE" is cross-entropy, explained
 * by the row's subtitle. */
static const ChoiceLabel loss_labels[] = {
  { "weighted-ce", N_("Weighted CE (the report’s)") },
  { "ce", N_("Plain CE") },
  { "ce-dice", N_("Plain CE + Dice") },
  { "weighted-ce-dice", N_("Weighted CE + Dice") },
  { "ce-dice-present", N_("Plain CE + Dice, present classes") },
  { "weighted-ce-dice-present", N_("Weighted CE + Dice, present classes") },
  { "ce-lovasz", N_("Plain CE + Lovász") },
  { "weighted-ce-lovasz", N_("Weighted CE + Lovász") },
  { NULL, NULL }
};

/* Adam, AdamW and SGD are the same in every language. */
static const ChoiceLabel optimizer_labels[] = {
  { "pipeline", N_("Adam, then SGD") },
  { "adam", "Adam" },
  { "adamw", "AdamW" },
  { "sgd", "SGD" },
  { NULL, NULL }
};

static const ChoiceLabel select_labels[] = {
  { "loss", N_("Lowest validation loss") },
  { "miou", N_("Highest validation mIoU") },
  { NULL, NULL }
};

/* The SegFormers go by their names (visage-s, seed); the report's convolutional baselines by
 * their architectures' proper names. */
static const ChoiceLabel config_labels[] = {
  { "visage-s", "visage-s" },
  { "seed", "seed" },
  { "unet", N_("U-Net (the report’s)") },
  { "deeplabv3plus", N_("DeepLabV3+ (the report’s)") },
  { "fastscnn", N_("Fast-SCNN (the report’s)") },
  { NULL, NULL }
};

const VisageTrainChoices visage_train_config_choices = { vg_config_names, config_labels,
                                                         "custom", N_("Custom") };
const VisageTrainChoices visage_train_loss_choices = { vg_loss_kind_names, loss_labels, NULL,
                                                       NULL };
const VisageTrainChoices visage_train_optimizer_choices = { vg_optimizer_kind_names,
                                                            optimizer_labels, NULL, NULL };
const VisageTrainChoices visage_train_select_choices = { vg_select_kind_names, select_labels,
                                                         NULL, NULL };

const char *
visage_train_choice_name (const VisageTrainChoices *choices, guint k)
{
  const char *const *names;
  guint n;

  g_return_val_if_fail (choices != NULL, NULL);

  names = choices->names ();
  n = g_strv_length ((char **) names);
  if (k < n)
    return names[k];
  return k == n ? choices->extra : NULL;
}

const char *
visage_train_choice_label (const VisageTrainChoices *choices, guint k)
{
  const char *name = visage_train_choice_name (choices, k);

  g_return_val_if_fail (name != NULL, NULL);

  if (name == choices->extra)
    return _(choices->extra_label);
  if (choices->labels == NULL)
    return name;
  for (const ChoiceLabel *l = choices->labels; l->name != NULL; l++)
    if (g_str_equal (l->name, name))
      return _(l->label);
  g_warning ("the Train dialog has no label for the engine's choice “%s”", name);
  return name;
}

GListModel *
visage_train_choices_new_model (const VisageTrainChoices *choices)
{
  GtkStringList *items = gtk_string_list_new (NULL);

  for (guint k = 0; visage_train_choice_name (choices, k) != NULL; k++)
    gtk_string_list_append (items, visage_train_choice_label (choices, k));
  return G_LIST_MODEL (items);
}
