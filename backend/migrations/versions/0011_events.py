"""events: a large event's neutralisation (碳汇+大型活动) — the event with its plan and final account, and the
orders that offset it (the organiser's, and participants' for their own trips)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('venue_region', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('venue_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('expected_participants', sa.Integer(), nullable=False),
    sa.Column('area_m2', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('plan_calculation_id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=True),
    sa.Column('plan_total_g', sa.BigInteger(), nullable=True),
    sa.Column('boundary', sa.JSON(), nullable=False),
    sa.Column('measures', sa.JSON(), nullable=False),
    sa.Column('offset_method', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('retrospective', sa.Boolean(), nullable=False),
    sa.Column('planned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('final_calculation_id', sqlmodel.sql.sqltypes.AutoString(length=26), nullable=True),
    sa.Column('final_total_g', sa.BigInteger(), nullable=True),
    sa.Column('evaluation', sa.JSON(), nullable=False),
    sa.Column('accounted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('neutral_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('conference', 'forum', 'exhibition', 'show', 'match', 'other')",
                       name='ck_event_kind'),
    sa.CheckConstraint("status IN ('draft', 'planned', 'accounted', 'neutral')", name='ck_event_status'),
    sa.CheckConstraint('ends_on >= starts_on', name='ck_event_dates'),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['plan_calculation_id'], ['footprint_calculation.id'], ),
    sa.ForeignKeyConstraint(['final_calculation_id'], ['footprint_calculation.id'], ),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_id')
    )
    op.create_index('ix_event_org_id', 'event', ['org_id'])
    op.create_index('ix_event_status', 'event', ['status'])
    op.create_table('event_purchase',
    sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.CheckConstraint("side IN ('organiser', 'participant')", name='ck_event_purchase_side'),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_index('ix_event_purchase_event_id', 'event_purchase', ['event_id'])


def downgrade() -> None:
    op.drop_table('event_purchase')
    op.drop_table('event')
